import { errorClass } from '@appliance/errors';

/** Why the systemd notify protocol cannot be used. Each message says what to do. */
const NOTIFY_ERROR_CODES = {
  E_NOTIFY_ADDRESS: 'NOTIFY_SOCKET is set but is not a unix socket path or @abstract name',
  E_NOTIFY_ADDON: 'the sd_notify native addon cannot be found or loaded',
  E_NOTIFY_SEND: 'a notification could not be sent (the errno is in the message)',
} as const;
export type NotifyErrorCode = keyof typeof NOTIFY_ERROR_CODES;

export class NotifyError extends errorClass<NotifyErrorCode>('NotifyError', NOTIFY_ERROR_CODES) {}
