/** `colts/corpus`: the one reader of document corpora (JSONL, BEIR folders, gzip, plain text on request). Re-exports only. */
export {
  checkCorpus,
  corpusFile,
  CorpusLineParser,
  documentText,
  parseCorpusLine,
  parseCorpusText,
  readCorpus,
  readCorpusRecords,
  type CheckedCorpus,
  type CorpusDoc,
  type CorpusOptions,
  type CorpusRecord,
} from "./reader.js";
