/**
 * `colts/plaid`: the PLAID engine's parts, for those who build on them: the residual codec, k-means
 * and PLAID's sizes, token pooling, the search stages. Applications use the root entry. Re-exports only.
 */
export { ResidualCodec, type ResidualCodecParams, type TrainCodecOptions, type CompressedVectors, type Nbits } from "./codec.js";
export { kmeans, plaidNumCentroids, plaidSampleSize, type KmeansOptions } from "./kmeans.js";
export { poolTokens, type PoolOptions, type PooledDocument } from "./pooling.js";
export { poolDoc } from "./source.js";
export { plaidSearch, plaidDefaults, type PlaidParams, type PlaidSearchOptions, type PlaidStage } from "./stages.js";
export { INDEX_FORMAT, INDEX_FORMAT_VERSION, type Manifest } from "./manifest.js";
