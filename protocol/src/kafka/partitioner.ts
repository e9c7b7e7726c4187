import type { PartitionerArgs } from 'kafkajs';
import { partitionForKey } from '../bus.js';

/**
 * Places each record on `partitionForKey(key, partitions)`, as the embedded bus does, instead of
 * kafkajs's murmur2 default: readers (the gateway) check a signal is on its stream's partition
 * with the same function. Every writer of a topic must use it (a topic first written with
 * another partitioner has its streams elsewhere: recreate it).
 */
export function protocolPartitioner() {
  return ({ partitionMetadata, message }: PartitionerArgs): number =>
    partitionForKey(message.key?.toString() ?? '', partitionMetadata.length);
}
