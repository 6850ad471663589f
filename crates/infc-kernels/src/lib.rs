//! Compute kernels with runtime CPU dispatch (AVX-512, AVX2+FMA, portable) and weight packing
