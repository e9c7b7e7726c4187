/**
 * Fleet targets: whom an operator's command is for. A device is covered by `all`, by
 * `profile:<its profile>` and by `device:<its id>`; nothing else covers it.
 */

/** The targets that cover a device of `profile` with id `deviceId`, broadest first. */
export function coveringTargets(deviceId: string, profile: string): string[] {
  return ['all', `profile:${profile}`, `device:${deviceId}`];
}

/** Whether `target` (`all`, `profile:<p>`, `device:<id>`) covers the device. */
export function targetCovers(target: string, device: { deviceId: string; profile: string }): boolean {
  return target === 'all' || target === `profile:${device.profile}` || target === `device:${device.deviceId}`;
}
