/** Builds the stale parts (server, web page); returns their names, [] when everything was current. */
export function buildIfStale(log?: (line: string) => void): string[]
