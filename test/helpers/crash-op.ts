/**
 * Child process of the crash-point test, run with `--import kill-hook.js`: one write to an index,
 * `add <docs.json>` (documents as `{ id, text, n, vectors: number[] }`), `delete <id,id,...>` or
 * `compact`; prints "done" when it returns. The metadata database's transactions happen in SQLite's
 * native code, out of the hook's sight: its insert and close (the WAL checkpoint) are marked as steps
 * here, so a kill lands just before each.
 */
import fs from "node:fs";
import { MetadataStore } from "../../src/metadata/sqlite-store.js";
import { arraySource } from "../../src/plaid/source.js";
import { addToIndex, compactIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { step } from "./kill-hook.js";

const [dir, op, arg] = process.argv.slice(2);
const { insert, close } = Object.getOwnPropertyDescriptors(MetadataStore.prototype);
MetadataStore.prototype.insert = function (this: MetadataStore, rows) {
  step("sqlite insert");
  Reflect.apply(insert?.value as () => void, this, [rows]);
};
MetadataStore.prototype.close = function (this: MetadataStore) {
  if (!this.readOnly) step("sqlite close");
  Reflect.apply(close?.value as () => void, this, []);
};

if (!dir) throw new Error("usage: crash-op <dir> add <docs.json> | delete <ids> | compact");
if (op === "add") {
  const docs = (JSON.parse(fs.readFileSync(arg ?? "", "utf8")) as { id: string; text: string; n: number; vectors: number[] }[]).map((d) => ({ ...d, vectors: Float32Array.from(d.vectors) }));
  await addToIndex(dir, arraySource(docs), { chunkDocs: 3 });
} else if (op === "delete") {
  await deleteFromIndex(dir, (arg ?? "").split(","));
} else if (op === "compact") {
  await compactIndex(dir);
} else throw new Error(`unknown operation ${String(op)}`);
process.stdout.write("done\n");
