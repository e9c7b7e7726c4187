/*
 * sd_notify.node: the one thing Node.js cannot do by itself for the systemd notify protocol,
 * sending a datagram on an AF_UNIX SOCK_DGRAM socket (node:dgram is UDP only, node:net is
 * stream only). Everything else (parsing NOTIFY_SOCKET, building messages, the watchdog
 * policy) stays in TypeScript, so this file is small enough to read in one sitting.
 *
 * Exports:
 *   send(address: Buffer, message: Buffer): number
 *     address: the bytes of sun_path, without a trailing NUL; a leading NUL byte means an
 *              abstract socket (NOTIFY_SOCKET=@name), as in sd_notify(3).
 *     returns: bytes sent (>= 0), or -errno (EAGAIN, ENOENT, ECONNREFUSED, ...).
 *   close(): void   closes the cached socket (tests, tidy shutdown).
 *   protect(): number   prctl(PR_SET_DUMPABLE, 0): the kernel writes no core dump of this
 *              process and other users cannot ptrace it, because its memory holds the
 *              exchange API keys. Returns 0 or -errno. (The unit also sets LimitCORE=0.)
 *
 * Why these choices:
 * - Node-API only (no V8 or libuv headers): the binary is ABI-stable across Node versions,
 *   so the one shipped beside the executable keeps working if the Node inside it changes.
 * - No libsystemd: the protocol is one sendto(), and the device then needs no -dev package
 *   to build and no particular libsystemd to run.
 * - One unconnected socket, created on first use and kept: no allocation or fd churn per
 *   watchdog ping over months of uptime; sendto() resolves the path every time, so a
 *   `systemctl daemon-reexec` (new socket at the same path) needs nothing from us.
 * - SOCK_CLOEXEC: children never inherit it. MSG_NOSIGNAL: no SIGPIPE. MSG_DONTWAIT: never
 *   blocks the event loop if PID 1 is slow to read; the caller sees -EAGAIN and decides.
 * - Synchronous: a non-blocking sendto() of a few bytes costs microseconds, far less than
 *   handing it to the thread pool would.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>

/* Shared by every thread that loads the addon; a datagram send needs no locking. */
static int notify_fd = -1;

static napi_value number(napi_env env, int value) {
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_buffer = false;
  void *address = NULL, *message = NULL;
  size_t address_len = 0, message_len = 0;
  struct sockaddr_un sun;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "send(address: Buffer, message: Buffer)");
    return NULL;
  }
  for (int i = 0; i < 2; i++) {
    if (napi_is_buffer(env, argv[i], &is_buffer) != napi_ok || !is_buffer) {
      napi_throw_type_error(env, NULL, "send(address: Buffer, message: Buffer)");
      return NULL;
    }
  }
  napi_get_buffer_info(env, argv[0], &address, &address_len);
  napi_get_buffer_info(env, argv[1], &message, &message_len);
  if (address_len == 0 || address_len > sizeof(sun.sun_path)) return number(env, -EINVAL);

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, address, address_len);
  /* Exact length: for an abstract name every byte counts, including none after it. */
  socklen_t sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + address_len);

  if (notify_fd < 0) {
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_fd < 0) return number(env, -errno);
  }
  ssize_t sent;
  do {
    sent = sendto(notify_fd, message, message_len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sun,
                  sun_len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int err = errno;
    /* Only if the descriptor itself went bad (closed under us): forget it, make a new one next time. */
    if (err == EBADF || err == ENOTSOCK) notify_fd = -1;
    return number(env, -err);
  }
  return number(env, (int)sent);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  (void)info;
  if (notify_fd >= 0) {
    close(notify_fd);
    notify_fd = -1;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static napi_value Protect(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, Close, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
  napi_create_function(env, "protect", NAPI_AUTO_LENGTH, Protect, NULL, &fn);
  napi_set_named_property(env, exports, "protect", fn);
  return exports;
}
