// Names and path components of a torrent become file names on disk (D/<name>/<path...>), so any
// component that could escape D, collide or mean something special to the file system is refused.

/** Why `component` is unsafe as one file-name component, or undefined when it is safe. */
export function unsafeComponentReason(component: string): string | undefined {
  if (component === '') return 'is empty';
  if (component === '.' || component === '..') return `is "${component}"`;
  if (component.includes('/')) return 'contains "/"';
  if (component.includes('\\')) return 'contains "\\"';
  if (component.includes('\0')) return 'contains a NUL byte';
  return undefined;
}

/** Renders a path for messages without letting control characters through. */
export function printablePath(components: readonly string[]): string {
  return JSON.stringify(components.join('/'));
}
