import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * What is wrong with an LMDB data file (`data.mdb`) that LMDB would map
 * and read without checking, or null when its two meta pages look sound.
 *
 * Why: LMDB trusts its file. Opening one that is not an LMDB file (a text
 * file, zeros) or whose meta pages are damaged kills the process with
 * SIGSEGV or SIGBUS, with no message. This reads the two meta pages first,
 * as LMDB will, and says what it found instead. Not found: damage inside
 * the data pages (LMDB keeps no page checksums, and only reading the pages
 * would tell), nor a file cut short past its meta pages. (A sound file may
 * be shorter than its last page says, when the pages at its end are free,
 * so the length proves nothing.)
 *
 * The layout read (the LMDB that the `lmdb` package builds, whose page
 * header is 24 bytes): pages 0 and 1 are meta pages, each a page header
 * (flags at byte 18, P_META = 0x08) then the meta: magic 0xBEEFC0DE at 24,
 * the page size at 48 (the free-page tree's pad field), each tree's root
 * page at 88 and 136 and the last page used at 144, all little-endian.
 * Both are checked: LMDB may use either (the newer one, or after a crash
 * the one before).
 */
export function lmdbFileProblem(file: string): string | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(META_BYTES);
    if (size < 2 * MIN_PAGE || readSync(fd, head, 0, META_BYTES, 0) < META_BYTES) return `it is ${size} bytes: too short for LMDB's two meta pages`;
    const first = readMeta(head);
    if (typeof first === 'string') return `page 0 ${first}`;
    const { pageSize } = first;
    if (size < 2 * pageSize) return `it is ${size} bytes: too short for two meta pages of ${pageSize} bytes`;
    const second = Buffer.alloc(META_BYTES);
    readSync(fd, second, 0, META_BYTES, pageSize);
    const other = readMeta(second);
    if (typeof other === 'string') return `page 1 ${other}`;
    for (const [n, m] of [[0, first], [1, other]] as const) {
      for (const root of m.roots) {
        if (root !== NO_PAGE && (root < 2n || root > m.lastPage)) return `meta page ${n} names root page ${root}, outside pages 2–${m.lastPage} (a damaged meta page)`;
      }
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

const META_BYTES = 160;
const MIN_PAGE = 512;
const MAX_PAGE = 65_536;
const META_MAGIC = 0xbeefc0de;
const P_META = 0x08;
/** A tree with no pages: its root is P_INVALID (all ones). */
const NO_PAGE = 0xffff_ffff_ffff_ffffn;

interface Meta {
  pageSize: number;
  lastPage: bigint;
  roots: bigint[];
}

function readMeta(b: Buffer): Meta | string {
  if ((b.readUInt16LE(18) & P_META) === 0) return 'is not a meta page (not an LMDB file, or a damaged one)';
  if (b.readUInt32LE(24) !== META_MAGIC) return 'lacks the LMDB magic number (not an LMDB file, or a damaged one)';
  const pageSize = b.readUInt32LE(48);
  if (pageSize < MIN_PAGE || pageSize > MAX_PAGE || (pageSize & (pageSize - 1)) !== 0) return `names a page size of ${pageSize} bytes (a damaged meta page)`;
  return { pageSize, lastPage: b.readBigUInt64LE(144), roots: [b.readBigUInt64LE(88), b.readBigUInt64LE(136)] };
}
