import t from 'tap';
import { EmbeddedBus } from '../src/embedded-bus.js';
import { busContract } from './bus-contract.js';

await busContract(t, 'EmbeddedBus', async () => {
  const bus = new EmbeddedBus();
  return { bus, cleanup: () => bus.close() };
});
