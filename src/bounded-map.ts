/**
 * Sets `key` as the newest entry of `map`, first dropping the oldest one
 * (a Map iterates in insertion order) if the map holds `max` already: a
 * bounded record of the most recent keys.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
