/** `colts/metadata`: the metadata filter language (parse, evaluate, compile to SQL). Re-exports only. */
export { parseFilter, formatFilter, toSql, matches, evaluateFilter, type FilterNode, type FilterLiteral, type SqlCondition, type DocMeta } from "./filter.js";
