// Deep freezing for the in-memory store: what it hands out must not change with the writer's objects, nor be changed by readers.

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
