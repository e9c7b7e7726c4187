import t from 'tap';
import { AppError, errorClass, isRetriable } from '@appliance/errors';

const WIDGET_ERROR_CODES = {
  E_WIDGET_BROKEN: 'the widget is broken',
  E_WIDGET_BUSY: 'the widget is busy',
} as const;

class WidgetError extends errorClass('WidgetError', WIDGET_ERROR_CODES, { retriable: ['E_WIDGET_BUSY'] }) {}

/** A family with its own constructor and field, as ConfigError and ProtocolError have. */
class GadgetError extends errorClass('GadgetError', { E_GADGET: 'the gadget failed' }) {
  constructor(
    message: string,
    readonly part: string,
  ) {
    super('E_GADGET', message);
  }
}

t.test('an error of a family carries its code, message, cause and retriability', (t) => {
  const cause = new Error('underneath');
  const err = new WidgetError('E_WIDGET_BROKEN', 'widget 7 is broken', { cause });
  t.ok(err instanceof WidgetError);
  t.ok(err instanceof AppError);
  t.ok(err instanceof Error);
  t.equal(err.code, 'E_WIDGET_BROKEN');
  t.equal(err.message, 'widget 7 is broken');
  t.equal(err.cause, cause);
  t.equal(err.retriable, false);
  t.end();
});

t.test('only the codes of its table compile', (t) => {
  // @ts-expect-error not a code of WidgetError
  const err = new WidgetError('E_NOT_A_WIDGET_CODE', 'x');
  t.equal(err.code, 'E_NOT_A_WIDGET_CODE');
  t.end();
});

t.test('the message defaults to the meaning of the code', (t) => {
  t.equal(new WidgetError('E_WIDGET_BUSY').message, 'the widget is busy');
  t.equal(new WidgetError('E_WIDGET_BUSY', undefined).message, 'the widget is busy');
  t.end();
});

t.test('without a cause there is no cause property, as with a plain Error', (t) => {
  const err = new WidgetError('E_WIDGET_BROKEN', 'x');
  t.notOk(Object.hasOwn(err, 'cause'));
  t.notOk(Object.hasOwn(new WidgetError('E_WIDGET_BROKEN', 'x', { cause: undefined }), 'cause'));
  t.end();
});

t.test('retriable comes from the code, and a thrower can override it for one failure', (t) => {
  t.equal(new WidgetError('E_WIDGET_BUSY').retriable, true);
  t.equal(new WidgetError('E_WIDGET_BROKEN').retriable, false);
  t.equal(new WidgetError('E_WIDGET_BUSY', 'x', { retriable: false }).retriable, false);
  t.equal(new WidgetError('E_WIDGET_BROKEN', 'x', { retriable: true }).retriable, true);
  t.end();
});

t.test('isRetriable is true only for one of ours that says so', (t) => {
  t.equal(isRetriable(new WidgetError('E_WIDGET_BUSY')), true);
  t.equal(isRetriable(new WidgetError('E_WIDGET_BROKEN')), false);
  // Another library's error with a retriable flag of its own is not ours to retry.
  t.equal(isRetriable(Object.assign(new Error('kafkajs'), { retriable: true })), false);
  t.equal(isRetriable({ code: 'E_WIDGET_BUSY', retriable: true }), false);
  t.equal(isRetriable(new TypeError('bug')), false);
  t.equal(isRetriable(undefined), false);
  t.end();
});

t.test('the class is named for stack traces and loggers', (t) => {
  const err = new WidgetError('E_WIDGET_BROKEN', 'widget 7 is broken');
  t.equal(err.name, 'WidgetError');
  t.equal(err.constructor.name, 'WidgetError');
  t.match(err.stack, /^WidgetError: widget 7 is broken\n/);
  t.equal(String(err), 'WidgetError: widget 7 is broken');
  // The name is not an own field: the JSON form holds only code, message and retriable.
  t.notOk(Object.hasOwn(err, 'name'));
  t.end();
});

t.test('the JSON form is code, message and retriable: never the stack or the cause', (t) => {
  const err = new WidgetError('E_WIDGET_BUSY', 'try later', { cause: new Error('secret detail') });
  t.strictSame(err.toJSON(), { code: 'E_WIDGET_BUSY', message: 'try later', retriable: true });
  t.strictSame(JSON.parse(JSON.stringify({ error: err })), {
    error: { code: 'E_WIDGET_BUSY', message: 'try later', retriable: true },
  });
  t.end();
});

t.test('a family with its own constructor keeps its fields and the shared shape', (t) => {
  const err = new GadgetError('the lid is off', 'lid');
  t.ok(err instanceof GadgetError);
  t.equal(err.name, 'GadgetError');
  t.equal(err.code, 'E_GADGET');
  t.equal(err.part, 'lid');
  t.equal(err.retriable, false);
  t.strictSame(err.toJSON(), { code: 'E_GADGET', message: 'the lid is off', retriable: false });
  t.end();
});

t.test('is() narrows to the class, and to one code when given', (t) => {
  const busy: unknown = new WidgetError('E_WIDGET_BUSY');
  t.equal(WidgetError.is(busy), true);
  t.equal(WidgetError.is(busy, 'E_WIDGET_BUSY'), true);
  t.equal(WidgetError.is(busy, 'E_WIDGET_BROKEN'), false);
  t.equal(GadgetError.is(busy), false);
  t.equal(AppError.is(busy), true);
  t.equal(WidgetError.is(new Error('E_WIDGET_BUSY')), false);
  // @ts-expect-error a code of another family does not compile
  t.equal(WidgetError.is(busy, 'E_GADGET'), false);
  if (WidgetError.is(busy)) {
    // Typed: only the family's codes compile here.
    const code: keyof typeof WIDGET_ERROR_CODES = busy.code;
    t.equal(code, 'E_WIDGET_BUSY');
  }
  t.end();
});

t.test('families do not mix: one family is not an instance of another', (t) => {
  const Other = errorClass('OtherError', { E_WIDGET_BROKEN: 'same code, other family' });
  const err = new Other('E_WIDGET_BROKEN');
  t.notOk(err instanceof WidgetError);
  t.ok(err instanceof Other);
  t.equal(err.name, 'OtherError');
  t.end();
});

t.test('the code table is on the class, and a retriable code must be in it', (t) => {
  t.equal(WidgetError.codes, WIDGET_ERROR_CODES);
  t.throws(() => errorClass('BadError', { E_A: 'a' }, { retriable: ['E_B' as 'E_A'] }), {
    name: 'TypeError',
    message: 'BadError: retriable code E_B is not in its table',
  });
  t.end();
});
