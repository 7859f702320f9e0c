// Seeded full-stack worlds (relays, devices, stores, a hostile network) on the yjs backend: test/support/sim.
import { fullStackSuite } from '../support/sim/suite.js'

fullStackSuite('yjs')
