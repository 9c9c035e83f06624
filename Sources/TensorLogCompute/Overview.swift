// TensorLogCompute: training and inference run against the store's mapped blocks.
//
// Entry points (each documented where declared):
//   Trainer.train(store:data:labels:model:optimizer:epochs:batchSize:seed:shuffle:saveAs:resume:progress:)
//       linear regression, softmax regression and MLPs; SGD with momentum or Adam; weight decay;
//       a checkpoint per epoch under `saveAs` (see ModelKeys); resume from it.
//   Evaluation.evaluate(store:model:data:labels:batchSize:)   accuracy + cross-entropy, or MSE
//   Inference.predict(store:model:data:output:batchSize:probabilities:)   predictions written to the store
//   Forecaster.train / predict / forecast   LSTM forecaster of a stored, growing series [T, F]
//   BatchStream   the mini-batch reader the above share (zero-copy for float32 uncompressed blocks)
//   Kernels, OptimizerKernels, Convert   the numerical building blocks (CBLAS sgemm + plain loops)
//   ProcessMemory, PeakMemoryTracker   RssAnon from /proc/self/status
//   SplitMix64, Xoshiro256   the seeded generators behind initialisation and shuffling
//
// Memory: data is never loaded whole. Batches point into the mapped blocks when the data is float32
// and uncompressed; otherwise a chunk (one row block) is decoded into a buffer allocated once, and
// other dtypes are converted into one batch buffer. Chunks ahead are advised `willNeed`, consumed
// ones `dontNeed`.
