import kafkajs from 'kafkajs';
import t from 'tap';
import { isRetriable } from '@appliance/errors';
import { KafkaBusError } from '@appliance/protocol/kafka';

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

/** What kafkajs throws for a broker error code: retriable as its own table says. */
const protocolError = (type: string, retriable: boolean) =>
  Object.assign(new kafkajs.KafkaJSProtocolError(type), { type, retriable });

t.test('a failed publish is retriable when kafkajs calls its cause transient', (t) => {
  const lost = new KafkaJSConnectionError('Connection error: ECONNREFUSED');
  const err = new KafkaBusError('E_PUBLISH_FAILED', 'publish failed: Connection error', lost);
  t.equal(err.retriable, true);
  t.equal(isRetriable(err), true);
  t.equal(err.cause, lost);
  t.strictSame(err.toJSON(), {
    code: 'E_PUBLISH_FAILED',
    message: 'publish failed: Connection error',
    retriable: true,
  });
  t.end();
});

t.test("after kafkajs's own retries run out, the last error underneath decides", (t) => {
  const leader = protocolError('LEADER_NOT_AVAILABLE', true);
  const denied = protocolError('TOPIC_AUTHORIZATION_FAILED', false);
  const exhausted = (e: Error) => new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 15, retryTime: 5000 });
  t.equal(new KafkaBusError('E_PUBLISH_FAILED', 'x', exhausted(leader)).retriable, true);
  t.equal(new KafkaBusError('E_PUBLISH_FAILED', 'x', exhausted(denied)).retriable, false);
  t.end();
});

t.test('a publish failing on anything else is not retriable', (t) => {
  for (const [name, cause] of [
    ['an unauthorised topic', protocolError('TOPIC_AUTHORIZATION_FAILED', false)],
    ['a non-retriable kafkajs error', new KafkaJSNonRetriableError('no')],
    ['our own bug', new TypeError('records is not iterable')],
    [
      'an error claiming to be retriable that is not kafkajs',
      Object.assign(new Error('x'), { retriable: true }),
    ],
    ['no cause', undefined],
  ] as const) {
    t.equal(new KafkaBusError('E_PUBLISH_FAILED', 'x', cause).retriable, false, name);
  }
  t.end();
});

t.test('a closed bus or subscription is never retriable, whatever the cause', (t) => {
  const lost = new KafkaJSConnectionError('Connection error');
  for (const code of ['E_BUS_CLOSED', 'E_SUBSCRIPTION_CLOSED', 'E_IDEMPOTENCE_UNAVAILABLE'] as const) {
    const err = new KafkaBusError(code, 'x', lost);
    t.equal(err.retriable, false, code);
    t.ok(KafkaBusError.is(err, code));
    t.equal(err.name, 'KafkaBusError');
  }
  t.end();
});
