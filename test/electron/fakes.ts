/** Small fakes of Electron objects for the desktop-shell tests. */
import { EventEmitter } from 'node:events';

/** An EventEmitter whose `on` returns itself, like Electron's objects. */
export class FakeEmitter extends EventEmitter {}
