const STATUS = ['IN_STOCK', 'LOW_STOCK', 'OUT_OF_STOCK']
const rows = Array.from({ length: 1818 }, (_, i) => ({ id: `p_${i}`, category: 'shoes', name: `shoes item ${i}`, photo: `https://picsum.photos/seed/p_${i}/400/400`, price: 12.5 + i, stock: String(400 + i), status_rank: i % 3, hits: String(i % 7), trending: i < 3 }))
const text = rows.map((r) => JSON.stringify(r)).join('\n')
function toProduct(r: any) { return { id: r.id, category: r.category, name: r.name, photo: r.photo, price: Number(r.price) } }
const map1 = (rs: any[]) => rs.map((r) => ({ ...toProduct(r), stock: Number(r.stock), stockStatus: STATUS[Number(r.status_rank)] ?? 'OUT_OF_STOCK', hits: Number(r.hits), trending: r.trending === true || Number(r.trending) === 1 }))
const map2 = (rs: any[]) => rs.map((r) => ({ id: r.id, category: r.category, name: r.name, photo: r.photo, price: Number(r.price), stock: Number(r.stock), stockStatus: STATUS[Number(r.status_rank)] ?? 'OUT_OF_STOCK', hits: Number(r.hits), trending: r.trending === true || Number(r.trending) === 1 }))
const parse = () => text.split('\n').map((l) => JSON.parse(l))
for (const [name, fn] of [['parse', () => parse()], ['map-spread', () => map1(parse())], ['map-literal', () => map2(parse())]] as const) {
  for (let i = 0; i < 200; i++) fn()
  const t = performance.now(); for (let i = 0; i < 500; i++) fn(); console.log(name, ((performance.now() - t) / 500).toFixed(3), 'ms')
}
const mapped = map2(parse())
const res1 = (rs: any[]) => rs.map((r) => ({ ...r, stockStatus: r.stockStatus, rankStatus: r.trending ? 'Trending 🔥' : null }))
const res2 = (rs: any[]) => rs.map((r) => ({ id: r.id, category: r.category, name: r.name, photo: r.photo, price: r.price, stock: r.stock, stockStatus: r.stockStatus, hits: r.hits, trending: r.trending, rankStatus: r.trending ? 'Trending 🔥' : null }))
const res3 = (rs: any[]) => { for (const r of rs) r.rankStatus = r.trending ? 'Trending 🔥' : null; return rs }
for (const [name, fn] of [['resolver-spread', () => res1(mapped)], ['resolver-literal', () => res2(mapped)], ['resolver-assign', () => res3(map2(parse()))]] as const) {
  for (let i = 0; i < 200; i++) fn()
  const t = performance.now(); for (let i = 0; i < 500; i++) fn(); console.log(name, ((performance.now() - t) / 500).toFixed(3), 'ms')
}
