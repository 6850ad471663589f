//! Versioned plan file format: encode, decode, validate
