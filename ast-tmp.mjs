import { query } from 'chdb'
const qs = process.argv.slice(2)
for (const q of qs) {
  try { console.log(query(q, 'TSVRaw')) } catch (e) { console.log('ERR', e.message) }
}
