export {
  AppError,
  errorClass,
  isRetriable,
  type AppErrorClass,
  type AppErrorOptions,
  type CodeTable,
  type ErrorClassOptions,
  type ErrorJSON,
} from './app-error.js';
