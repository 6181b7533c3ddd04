/**
 * Checks that a msgpack document is complete and well formed before msgpackr reads it,
 * without allocating: one pass over the bytes, counting the items still owed.
 *
 * Why: msgpackr allocates `new Array(n)` for an array header before reading any element,
 * with `n` as declared on the wire (up to 2^32 - 1). A few KB of nested `array16` headers of
 * 65,535 elements each made the master hold hundreds of MB at once (the protocol fuzzer's
 * random frames did it now and then: RSS +300-570 MB, seed 1178941039). Every item takes at
 * least one byte, so a document whose containers declare more items than bytes remain is
 * malformed: refusing it first bounds what msgpackr can allocate by the header's size.
 *
 * Format: msgpack spec (https://github.com/msgpack/msgpack/blob/master/spec.md), all types.
 *
 * @param bytes - one msgpack document
 * @returns undefined when `bytes` holds exactly one complete document; otherwise why not
 */
export function msgpackShapeError(bytes: Uint8Array): string | undefined {
  const end = bytes.length;
  let pos = 0;
  // Items still to read: the document itself, plus every element containers announced.
  let owed = 1;
  while (owed > 0) {
    if (owed > end - pos) return `declares ${owed} more items than the ${end - pos} bytes left`;
    const t = bytes[pos++] as number;
    owed--;
    let skip = 0; // payload bytes after the type byte (and its length field)
    let items = 0; // elements this item announces
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xc0 && t <= 0xc3 && t !== 0xc1)) {
      // fixint, nil, false, true: the type byte is all
    } else if (t <= 0x8f) items = 2 * (t & 0x0f);
    else if (t <= 0x9f) items = t & 0x0f;
    else if (t <= 0xbf) skip = t & 0x1f;
    else {
      // Width of the length field (bytes), and what the length counts.
      let width = 0;
      switch (t) {
        case 0xc4: case 0xd9: width = 1; break; // bin8, str8
        case 0xc5: case 0xda: width = 2; break; // bin16, str16
        case 0xc6: case 0xdb: width = 4; break; // bin32, str32
        case 0xc7: width = 1; skip = 1; break; // ext8: length, type, data
        case 0xc8: width = 2; skip = 1; break; // ext16
        case 0xc9: width = 4; skip = 1; break; // ext32
        case 0xca: skip = 4; break; // float32
        case 0xcb: skip = 8; break; // float64
        case 0xcc: case 0xd0: skip = 1; break; // (u)int8
        case 0xcd: case 0xd1: skip = 2; break; // (u)int16
        case 0xce: case 0xd2: skip = 4; break; // (u)int32
        case 0xcf: case 0xd3: skip = 8; break; // (u)int64
        case 0xd4: skip = 2; break; // fixext1: type + 1
        case 0xd5: skip = 3; break; // fixext2
        case 0xd6: skip = 5; break; // fixext4
        case 0xd7: skip = 9; break; // fixext8
        case 0xd8: skip = 17; break; // fixext16
        case 0xdc: case 0xde: width = 2; break; // array16, map16
        case 0xdd: case 0xdf: width = 4; break; // array32, map32
        default: return `byte 0x${t.toString(16)} at ${pos - 1} is not a msgpack type`; // 0xc1
      }
      if (width > 0) {
        if (pos + width > end) return `length field cut off at ${pos}`;
        let len = 0;
        for (let i = 0; i < width; i++) len = len * 256 + (bytes[pos + i] as number);
        pos += width;
        if (t >= 0xdc) items = t >= 0xde ? 2 * len : len;
        else skip += len;
      }
    }
    if (skip > end - pos) return `a value of ${skip} bytes at ${pos} runs past the end`;
    pos += skip;
    owed += items;
  }
  return pos === end ? undefined : `${end - pos} bytes after the end of the document`;
}
