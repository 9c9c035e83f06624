// The compute layer lands here (issue 4).
import COpenBLAS
import TensorLog
