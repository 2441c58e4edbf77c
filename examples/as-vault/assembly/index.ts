// as-vault: a complete sesame vault in AssemblyScript, over the host's
// storage area (abi/SPEC.md). The bindings it uses are in sesame.ts.
//
// Each secret is one storage record under the key "s/" + name, and the
// record is the secret encoding itself (SPEC.md §7.7: info record, then
// value). The vault never looks inside a value: get hands the record back
// as it is, stat hands back its info part, and list collects the info parts
// of the records whose names match. Names are case-sensitive, and metadata
// is kept (it is part of the record).
//
// Build (see README.md): npm ci && npx asc assembly/index.ts --target release

import {
  Buf, OK, NOT_FOUND, INVALID_ARGUMENT, INTERNAL, UNAVAILABLE, MAX_STORAGE_KEY,
  output, kv_set, kv_delete,
  readInput, kvRead, kvListPage, fail, infoSize, match, literalPrefix,
} from "./sesame";

const MANIFEST =
  '{"abi":1,"name":"as-vault","version":"1.0.0",' +
  '"description":"a vault in AssemblyScript over host storage",' +
  '"metadata":true,"case_sensitive":true,' +
  '"operations":["get","stat","set","remove","list","set_metadata","test"],' +
  '"grants":["storage"]}';

// Storage layout: one record per secret under PREFIX + name.
const PREFIX_LEN: u32 = 2; // "s/"
const PROBE_KEY = "t/probe";

// Scratch buffers, kept between the calls of one instance so that a call
// rarely allocates. They hold nothing another instance needs (SPEC.md §3).
const key = new Buf(); // "s/" + the name or pattern of this call
const arg = new Buf(); // an argument: metadata, then value
const rec = new Buf(); // a stored record
const out = new Buf(); // a record or list being built
const page = new Buf(); // a page of kv_list
const after = new Buf(); // the last key of the previous page

// The ABI version marker: exported, never called.
export function sesame_abi_v1(): void {}

export function sesame_manifest(): u32 {
  const b = String.UTF8.encode(MANIFEST);
  return output(changetype<usize>(b), <u32>b.byteLength);
}

// readKey reads argument 0 (a name or a pattern) into key, after "s/".
function readKey(len: u32): u32 {
  key.len = 0;
  key.reserve(PREFIX_LEN);
  store<u8>(key.ptr, 0x73); // 's'
  store<u8>(key.ptr, 0x2f, 1); // '/'
  return readInput(key, 0, len, PREFIX_LEN);
}

// loadRecord reads the record under key into rec and returns the size of its
// info part, or 0 with status set. NOT_FOUND comes back as a bare status:
// the engine's own "secret not found" says it best.
let status: u32 = OK;
function loadRecord(): u32 {
  status = kvRead(rec, key.ptr, key.len);
  if (status != OK) return 0;
  const info = infoSize(rec.ptr, rec.len);
  if (info == 0 || info >= rec.len) {
    status = fail(INTERNAL, "a stored record is corrupt");
    return 0;
  }
  return info;
}

// store writes the record name + type + meta + value, built in out.
function storeRecord(meta: usize, metaLen: u32, value: usize, valueLen: u32): u32 {
  const nameLen = key.len - PREFIX_LEN;
  out.len = 0;
  out.appendU32(nameLen);
  out.append(key.ptr + PREFIX_LEN, nameLen);
  out.reserve(1);
  store<u8>(out.ptr + out.len, load<u8>(value)); // the type: the value's first byte
  out.len += 1;
  if (metaLen == 0) out.appendU32(0); // no metadata
  else out.append(meta, metaLen);
  out.append(value, valueLen);
  return kv_set(key.ptr, key.len, out.ptr, out.len);
}

export function sesame_get(nameLen: u32): u32 {
  let st = readKey(nameLen);
  if (st != OK) return st;
  if (loadRecord() == 0) return status;
  return output(rec.ptr, rec.len);
}

export function sesame_stat(nameLen: u32): u32 {
  let st = readKey(nameLen);
  if (st != OK) return st;
  const info = loadRecord();
  if (info == 0) return status;
  return output(rec.ptr, info);
}

// set: metadata of length 0 means "none given": keep what is stored.
export function sesame_set(nameLen: u32, valueLen: u32, metaLen: u32): u32 {
  let st = readKey(nameLen);
  if (st != OK) return st;
  if (valueLen == 0) return fail(INVALID_ARGUMENT, "empty value encoding");
  // arg holds the metadata, then the value.
  st = readInput(arg, 2, metaLen);
  if (st == OK) st = readInput(arg, 1, valueLen, metaLen);
  if (st != OK) return st;
  let meta = arg.ptr, value = arg.ptr + metaLen;
  if (metaLen == 0) {
    const info = loadRecord();
    if (info != 0) {
      const head = 4 + load<u32>(rec.ptr) + 1; // str name, u8 type
      meta = rec.ptr + head;
      metaLen = info - head;
    } else if (status != NOT_FOUND) {
      return status;
    }
  }
  return storeRecord(meta, metaLen, value, valueLen);
}

export function sesame_set_metadata(nameLen: u32, metaLen: u32): u32 {
  let st = readKey(nameLen);
  if (st == OK) st = readInput(arg, 1, metaLen);
  if (st != OK) return st;
  const info = loadRecord();
  if (info == 0) return status;
  return storeRecord(arg.ptr, arg.len, rec.ptr + info, rec.len - info);
}

export function sesame_remove(nameLen: u32): u32 {
  const st = readKey(nameLen);
  if (st != OK) return st;
  return kv_delete(key.ptr, key.len); // NOT_FOUND when absent
}

// list pages through the keys that start with "s/" + the pattern's literal
// prefix, matches each name against the whole pattern and copies the info
// part of each matching record into the output.
export function sesame_list(patternLen: u32): u32 {
  let st = readKey(patternLen);
  if (st != OK) return st;
  const pattern = key.ptr + PREFIX_LEN;
  let prefixLen = PREFIX_LEN + literalPrefix(pattern, patternLen);
  if (prefixLen > MAX_STORAGE_KEY) prefixLen = PREFIX_LEN; // scan them all

  let count: u32 = 0;
  out.len = 0;
  out.appendU32(0);
  after.len = 0;
  for (;;) {
    st = kvListPage(page, key.ptr, prefixLen, after.ptr, after.len);
    if (st != OK) return st;
    const n = load<u32>(page.ptr);
    if (n == 0) break;
    let off: u32 = 4, k: usize = 0, klen: u32 = 0;
    for (let i: u32 = 0; i < n; i++) {
      klen = load<u32>(page.ptr + off);
      k = page.ptr + off + 4;
      off += 4 + klen;
      if (!match(pattern, patternLen, k + PREFIX_LEN, klen - PREFIX_LEN)) continue;
      st = kvRead(rec, k, klen);
      if (st == NOT_FOUND) continue; // removed since the page was read
      if (st != OK) return st;
      const info = infoSize(rec.ptr, rec.len);
      if (info == 0) return fail(INTERNAL, "a stored record is corrupt");
      out.append(rec.ptr, info);
      count++;
    }
    after.len = 0;
    after.append(k, klen);
  }
  store<u32>(out.ptr, count);
  return output(out.ptr, out.len);
}

// test writes, reads back and deletes a probe record.
export function sesame_test(): u32 {
  const probeKey = String.UTF8.encode(PROBE_KEY);
  const probe = String.UTF8.encode("sesame as-vault probe");
  const kp = changetype<usize>(probeKey), kl = <u32>probeKey.byteLength;
  const pl = <u32>probe.byteLength;
  let st = kv_set(kp, kl, changetype<usize>(probe), pl);
  if (st == OK) st = kvRead(rec, kp, kl);
  if (st != OK) return st;
  if (rec.len != pl || memory.compare(rec.ptr, changetype<usize>(probe), pl) != 0) {
    return fail(UNAVAILABLE, "storage returned other bytes than were written");
  }
  return kv_delete(kp, kl);
}

