import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTrainingExample, serializeTrainingExample } from "../../src/train/format.js";

test("text and id forms parse; serialisation round-trips", () => {
  const text = parseTrainingExample('{"query":"q","positive":"p","negatives":["n1","n2"],"scores":{"t":[3,1,2]}}', "f:1");
  assert.deepEqual(text, { query: "q", positive: "p", negatives: ["n1", "n2"], scores: { t: [3, 1, 2] } });
  const ids = parseTrainingExample('{"query_id":"q1","positive_id":"d1","negative_ids":["d2"]}', "f:2");
  assert.deepEqual(ids, { queryId: "q1", positiveId: "d1", negativeIds: ["d2"] });
  assert.deepEqual(parseTrainingExample(serializeTrainingExample(text), "x"), text);
  assert.deepEqual(parseTrainingExample(serializeTrainingExample(ids), "x"), ids);
});

test("bad lines are refused with the line named", () => {
  const cases: [string, RegExp][] = [
    ["{", /f:3: not valid JSON/],
    ["[1]", /JSON object/],
    ['{"positive":"p"}', /needs "query"/],
    ['{"query":"q"}', /needs "positive"/],
    ['{"query":"q","positive":"p","negatives":["a"],"scores":{"t":[1]}}', /1 values for 2 documents/],
    ['{"query":"q","positive":"p","negatives":[1]}', /array of strings/],
    ['{"query":"q","positive":"p","negatives":["a"],"negative_ids":["x","y"]}', /differ in length/],
  ];
  for (const [line, re] of cases) assert.throws(() => parseTrainingExample(line, "f:3"), (e: Error & { code?: string }) => e.code === "INPUT_INVALID" && re.test(e.message));
});
