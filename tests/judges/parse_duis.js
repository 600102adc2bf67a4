// Reads one DUIS document on stdin and prints what the DCC's own parser
// (@smartdcc/duis-parser) makes of it, as JSON (BigInts as strings). Exit 1 if it cannot parse.
const { parseDuis } = require('@smartdcc/duis-parser')

let chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  try {
    const parsed = parseDuis('simplified', Buffer.concat(chunks).toString('utf-8'))
    process.stdout.write(JSON.stringify(parsed, (_key, value) => (typeof value === 'bigint' ? value.toString() : value)))
  } catch (error) {
    process.stderr.write(String(error && error.stack ? error.stack : error))
    process.exit(1)
  }
})
