/**
 * Training state on disk, for `--resume`: parameters, AdamW moments and step, and the data position,
 * in one folder written atomically (temporary folder renamed into place, the old one moved aside
 * first), so an interruption at any point leaves either the previous state or the new one.
 *
 *   <output>/state/state.json          {version, step, epoch, cursor, fingerprint}
 *   <output>/state/tensors.safetensors param/<name>, adam_m/<name>, adam_v/<name> (float32)
 *
 * `fingerprint` holds every setting that changes the trajectory (loss, lr, schedule, batch, seed, data
 * size...); resuming with different ones is refused, since the result would match no uninterrupted run.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { readSafetensorsTensors } from "../model/layout.js";
import { serializeSafetensors, type TensorToWrite } from "../model/safetensors.js";
import type { AdamW } from "./optim.js";

export const STATE_VERSION = 1;

export interface DataPosition {
  /** Epoch being read (0-based). */
  epoch: number;
  /** Next index into that epoch's order. */
  cursor: number;
}

export interface StateInfo extends DataPosition {
  version: number;
  /** Optimizer steps done. */
  step: number;
  fingerprint: Record<string, unknown>;
}

export function stateDir(output: string): string {
  return path.join(output, "state");
}

/** Writes the state folder atomically: every weight with its two AdamW moments, and the position. */
export function saveState(output: string, weights: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, number[]>, opt: AdamW, pos: DataPosition, fingerprint: Record<string, unknown>): void {
  const tensors: TensorToWrite[] = [];
  for (const [name, p] of weights) {
    const m = opt.m.get(name);
    const v = opt.v.get(name);
    const shape = shapes.get(name);
    if (!m || !v || !shape) continue;
    for (const [prefix, t] of [["param/", p], ["adam_m/", m], ["adam_v/", v]] as const) tensors.push({ name: prefix + name, shape, data: t });
  }
  const info: StateInfo = { version: STATE_VERSION, step: opt.step, ...pos, fingerprint };
  const dir = stateDir(output);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, "tensors.safetensors"), serializeSafetensors(tensors));
  fs.writeFileSync(path.join(tmp, "state.json"), `${JSON.stringify(info, null, 2)}\n`);
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

function invalid(msg: string, details: Record<string, unknown> = {}): ColtsError {
  return new ColtsError("TRAIN_STATE_INVALID", msg, { details });
}

/** Reads state.json and checks its version and fingerprint. */
export function readStateInfo(output: string, fingerprint: Record<string, unknown>): StateInfo {
  const file = path.join(stateDir(output), "state.json");
  if (!fs.existsSync(file)) throw invalid(`no training state at ${file} to resume from`, { file });
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as StateInfo;
  if (info.version !== STATE_VERSION) throw invalid(`${file} has version ${info.version}; this colts reads ${STATE_VERSION}`, { file });
  for (const [k, v] of Object.entries(fingerprint)) {
    if (JSON.stringify(info.fingerprint[k]) !== JSON.stringify(v)) {
      throw invalid(`cannot resume: ${k} was ${JSON.stringify(info.fingerprint[k])} in the saved run, now ${JSON.stringify(v)}`, { setting: k });
    }
  }
  return info;
}

/** Loads weights and moments into the trainer's arrays and the optimizer, in place. */
export function loadStateTensors(output: string, weights: ReadonlyMap<string, Float32Array>, opt: AdamW, step: number): void {
  const file = path.join(stateDir(output), "tensors.safetensors");
  const names = [...weights.keys()].flatMap((n) => [`param/${n}`, `adam_m/${n}`, `adam_v/${n}`]);
  const tensors = readSafetensorsTensors(file, names);
  const take = (name: string, target: Float32Array): void => {
    const t = tensors.get(name);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== target.length) throw invalid(`${file}: ${name} is missing or misshapen`, { tensor: name });
    target.set(t.data);
  };
  for (const [name, p] of weights) {
    take(`param/${name}`, p);
    take(`adam_m/${name}`, opt.m.get(name) as Float32Array);
    take(`adam_v/${name}`, opt.v.get(name) as Float32Array);
  }
  opt.step = step;
}
