// Once, before any test file: the server and the web page built if their sources changed, so that
// the tests that start `bin/sightline.js` or serve web/dist never build them at the same time.
import { buildIfStale } from '../bin/build.js'

export default function setup(): void {
  buildIfStale((line) => console.log(line))
}
