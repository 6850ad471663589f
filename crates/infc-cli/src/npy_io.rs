//! `.npy` files for `infc run`: reading an input array into plan element type + shape +
//! little-endian bytes (the header parsed by `npyz`, the data taken as is and byte-swapped when the
//! file is big-endian), and writing an output tensor's bytes back out after a version 1.0 header.
//! Neither direction holds a second copy of the data: a file is read into one fallibly reserved
//! buffer, and an output is written from the caller's buffer after its header.

use anyhow::{bail, Context, Result};
use infc::DType;
use npyz::{NpyHeader, Order, TypeChar};
use std::io::{Read, Write};
use std::path::Path;

/// An array read from a `.npy` file.
#[derive(Debug)]
pub struct NpyArray {
    /// The plan element type, `None` when the file holds a type plans do not use (e.g. f64).
    pub dtype: Option<DType>,
    /// The file's element type as infc spells types (`f32`, `i64`, `f64`, `u16`, …).
    pub dtype_name: String,
    pub shape: Vec<usize>,
    /// Little-endian element bytes (empty when `dtype` is `None`).
    pub data: Vec<u8>,
}

impl NpyArray {
    /// `dtype[d0,d1,…]`, the way runtime errors print types.
    pub fn type_string(&self) -> String {
        type_string(&self.dtype_name, &self.shape)
    }
}

/// `name[d0,d1,…]`.
pub fn type_string(dtype: &str, shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("{dtype}[{}]", dims.join(","))
}

fn plan_dtype(tc: TypeChar, bytes: usize) -> Option<DType> {
    match (tc, bytes) {
        (TypeChar::Float, 4) => Some(DType::F32),
        (TypeChar::Float, 2) => Some(DType::F16),
        (TypeChar::Int, 8) => Some(DType::I64),
        (TypeChar::Int, 4) => Some(DType::I32),
        (TypeChar::Int, 1) => Some(DType::I8),
        (TypeChar::Uint, 1) => Some(DType::U8),
        (TypeChar::Bool, 1) => Some(DType::Bool),
        _ => None,
    }
}

fn type_name(tc: TypeChar, bytes: usize) -> String {
    match tc {
        TypeChar::Float => format!("f{}", bytes * 8),
        TypeChar::Int => format!("i{}", bytes * 8),
        TypeChar::Uint => format!("u{}", bytes * 8),
        TypeChar::Bool => "bool".to_string(),
        other => format!("npy '{}{bytes}'", other.to_str()),
    }
}

/// What a header says about the data that follows it.
struct Layout {
    dtype: Option<DType>,
    dtype_name: String,
    shape: Vec<usize>,
    elem: usize,
    big_endian: bool,
}

impl Layout {
    fn of(header: &NpyHeader) -> Result<Layout> {
        let npyz::DType::Plain(ts) = header.dtype() else {
            bail!("structured or array dtypes are not supported");
        };
        if header.order() == Order::Fortran {
            bail!("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
        }
        let shape = header
            .shape()
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<usize>, _>>()
            .context("a dimension does not fit in usize")?;
        let elem = ts
            .num_bytes()
            .context("element size does not fit in usize")?;
        Ok(Layout {
            dtype: plan_dtype(ts.type_char(), elem),
            dtype_name: type_name(ts.type_char(), elem),
            shape,
            elem,
            big_endian: ts.endianness() == npyz::Endianness::Big,
        })
    }

    /// Data bytes of a plan dtype's array (0 for other dtypes: their data is not read).
    fn data_len(&self) -> Result<usize> {
        if self.dtype.is_none() {
            return Ok(0);
        }
        let count = self
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .context("element count overflows")?;
        count
            .checked_mul(self.elem)
            .context("byte length overflows")
    }

    fn short(&self, len: usize, have: u64) -> anyhow::Error {
        anyhow::anyhow!(
            "{} needs {len} data bytes, the file has {have}",
            type_string(&self.dtype_name, &self.shape)
        )
    }

    fn array(self, mut data: Vec<u8>) -> NpyArray {
        if self.elem > 1 && self.big_endian {
            for chunk in data.chunks_exact_mut(self.elem) {
                chunk.reverse();
            }
        }
        NpyArray {
            dtype: self.dtype,
            dtype_name: self.dtype_name,
            shape: self.shape,
            data,
        }
    }
}

/// Longest header dict accepted from a stream whose length is unknown (a FIFO); from a file or
/// a buffer, the header may not be longer than the bytes there are.
const MAX_STREAM_HEADER: u64 = 1 << 20;
/// Deepest bracket nesting accepted in the header dict (a structured dtype's list of tuples needs
/// three levels).
const MAX_NESTING: usize = 8;

/// Read the preamble and header from `r` (at most `limit` bytes long) and parse it, leaving `r`
/// at the data. The declared header length and the dict's bracket nesting are checked before
/// `npyz` sees them: it allocates the declared length (up to 4 GiB for a 13-byte file) and its
/// literal parser takes exponential time in the nesting depth (both found by the `npy_read`
/// fuzzer).
fn read_header(r: &mut impl Read, limit: u64) -> Result<NpyHeader> {
    let mut pre = [0u8; 12];
    r.read_exact(&mut pre[..8])
        .context("bad header: shorter than the .npy preamble")?;
    if &pre[..6] != b"\x93NUMPY" {
        bail!("bad header: not a .npy file (no \\x93NUMPY magic)");
    }
    let (end, len) = match pre[6] {
        1 => {
            r.read_exact(&mut pre[8..10])
                .context("bad header: truncated")?;
            (10, u16::from_le_bytes([pre[8], pre[9]]) as usize)
        }
        2 | 3 => {
            r.read_exact(&mut pre[8..12])
                .context("bad header: truncated")?;
            (
                12,
                u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize,
            )
        }
        v => bail!("bad header: unsupported .npy version {v}"),
    };
    if len as u64 > limit {
        bail!("bad header: it declares {len} bytes, more than the {limit} there can be");
    }
    let mut head = pre[..end].to_vec();
    head.resize(end + len, 0);
    r.read_exact(&mut head[end..])
        .with_context(|| format!("bad header: it declares {len} bytes and the file ends first"))?;
    let mut depth = 0usize;
    for &b in &head[end..] {
        match b {
            b'[' | b'(' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    bail!("bad header: brackets nest deeper than {MAX_NESTING} levels");
                }
            }
            b']' | b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    NpyHeader::from_reader(&mut head.as_slice()).context("bad header")
}

/// Read a C-order `.npy` file of a plain (non-structured) dtype. The data is read straight into
/// one buffer reserved fallibly, after checking that a regular file holds that many bytes: a
/// header claiming more than the file has, or more than can be allocated, is an error naming the
/// bytes, not an abort.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read '{shown}'"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read '{shown}'"))?;
    let mut reader = std::io::BufReader::new(file);
    let limit = if meta.is_file() {
        meta.len()
    } else {
        MAX_STREAM_HEADER
    };
    let layout = read_header(&mut reader, limit)
        .and_then(|h| Layout::of(&h))
        .and_then(|l| Ok((l.data_len()?, l)))
        .with_context(|| format!("'{shown}' is not a usable .npy file"));
    let (len, layout) = layout?;
    if meta.is_file() && meta.len() < len as u64 {
        return Err(layout.short(len, meta.len()))
            .with_context(|| format!("'{shown}' is not a usable .npy file"));
    }
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| {
        anyhow::anyhow!(
            "'{shown}': {} needs {len} bytes, which cannot be allocated",
            type_string(&layout.dtype_name, &layout.shape)
        )
    })?;
    let got = reader
        .take(len as u64)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read '{shown}'"))?;
    if got < len {
        return Err(layout.short(len, got as u64))
            .with_context(|| format!("'{shown}' is not a usable .npy file"));
    }
    Ok(layout.array(data))
}

/// Parse the bytes of a `.npy` file (see [`read_npy`]); the `.npy` fuzz target's entry point.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    let mut rest = bytes;
    let header = read_header(&mut rest, bytes.len() as u64)?;
    let layout = Layout::of(&header)?;
    let len = layout.data_len()?;
    if rest.len() < len {
        return Err(layout.short(len, rest.len() as u64));
    }
    let data = rest[..len].to_vec();
    Ok(layout.array(data))
}

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I64 => "<i8",
        DType::I32 => "<i4",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::Bool => "|b1",
    }
}

/// The header of a `.npy` file holding a `dtype` array of `shape`: version 1.0, or 2.0 when the
/// dict does not fit 1.0's 16-bit length; padded so the data starts at a multiple of 64.
pub fn npy_header(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        descr(dtype)
    );
    // magic (6) + version (2) + header length (2 in 1.0, 4 in 2.0) + dict + '\n', padded.
    let padded = |prefix: usize| {
        let unpadded = prefix + dict.len() + 1;
        dict.len() + 1 + (64 - unpadded % 64) % 64
    };
    let v1 = padded(10) <= u16::MAX as usize;
    let len = if v1 { padded(10) } else { padded(12) };
    dict.push_str(&" ".repeat(len - dict.len() - 1));
    dict.push('\n');
    let mut out = Vec::with_capacity(12 + dict.len());
    out.extend_from_slice(b"\x93NUMPY");
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Write `data` as a `.npy` file: the header, then `data` itself (never a copy of the file in
/// memory: a 4 GiB output allocated nothing of its size here).
pub fn write_npy(path: &Path, dtype: DType, shape: &[usize], data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path)
        .with_context(|| format!("cannot create '{}'", path.display()))?;
    f.write_all(&npy_header(dtype, shape))
        .and_then(|()| f.write_all(data))
        .with_context(|| format!("cannot write '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complete bytes of a `.npy` file holding `data` (little-endian elements).
    fn npy_bytes(dtype: DType, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let mut out = npy_header(dtype, shape);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn written_files_parse_back_with_the_same_type_shape_and_bytes() {
        let cases: [(DType, Vec<usize>, usize); 4] = [
            (DType::F32, vec![2, 3], 4),
            (DType::I64, vec![5], 8),
            (DType::Bool, vec![], 1),
            (DType::I32, vec![1, 1, 2], 4),
        ];
        for (dtype, shape, elem) in cases {
            let n: usize = shape.iter().product();
            let data: Vec<u8> = (0..n * elem).map(|i| (i % 2) as u8).collect();
            let bytes = npy_bytes(dtype, &shape, &data);
            let header_len = bytes.len() - data.len();
            assert_eq!(header_len % 64, 0, "{dtype}");
            let back = parse_npy(&bytes).unwrap();
            assert_eq!(back.dtype, Some(dtype));
            assert_eq!(back.shape, shape);
            assert_eq!(back.data, data);
        }
    }

    /// `file` with its header's dtype `from` replaced by `to` (same length).
    fn with_descr(mut file: Vec<u8>, from: &[u8; 3], to: &[u8; 3]) -> Vec<u8> {
        let at = file.windows(3).position(|w| w == from).unwrap();
        file[at..at + 3].copy_from_slice(to);
        file
    }

    #[test]
    fn unsupported_types_are_named_and_truncated_data_is_an_error() {
        let f64_file = npy_bytes(DType::I64, &[2], &[0; 16]);
        let arr = parse_npy(&with_descr(f64_file, b"<i8", b"<f8")).unwrap();
        assert_eq!(arr.dtype, None);
        assert_eq!(arr.type_string(), "f64[2]");
        let short = npy_bytes(DType::F32, &[4], &[0; 16]);
        let err = parse_npy(&short[..short.len() - 3]).unwrap_err();
        assert!(
            format!("{err:#}").contains("needs 16 data bytes"),
            "{err:#}"
        );
        assert!(parse_npy(b"not an npy file").is_err());
    }

    /// A fresh temp file path for one test.
    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("infc-npy-{tag}-{}.npy", std::process::id()))
    }

    #[test]
    fn outputs_are_written_as_header_then_data() {
        let path = temp_path("write");
        let data: Vec<u8> = (0..24u8).collect();
        write_npy(&path, DType::F32, &[2, 3], &data).unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(file, npy_bytes(DType::F32, &[2, 3], &data));
        let back = read_npy(&path).unwrap();
        assert_eq!((back.shape, back.data), (vec![2, 3], data));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_header_too_long_for_version_1_is_written_as_version_2() {
        let shape = vec![1usize; 30_000];
        let header = npy_header(DType::U8, &shape);
        assert_eq!(&header[6..8], &[2, 0]);
        assert_eq!(header.len() % 64, 0);
        let back = parse_npy(&npy_bytes(DType::U8, &shape, &[9])).unwrap();
        assert_eq!((back.shape, back.data), (shape, vec![9]));
    }

    /// A header claiming 4 GiB over a few bytes of data is refused before anything of its size
    /// is allocated (the file is checked first).
    #[test]
    fn a_file_shorter_than_its_header_says_is_refused_before_allocating() {
        let path = temp_path("short");
        std::fs::write(&path, npy_bytes(DType::F32, &[1 << 30], &[0; 8])).unwrap();
        let err = format!("{:#}", read_npy(&path).unwrap_err());
        assert!(
            err.contains("f32[1073741824] needs 4294967296 data bytes"),
            "{err}"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn big_endian_data_is_swapped() {
        let file = npy_bytes(DType::I32, &[1], &[0, 0, 0, 7]);
        let arr = parse_npy(&with_descr(file, b"<i4", b">i4")).unwrap();
        assert_eq!(arr.data, vec![7, 0, 0, 0]);
    }

    /// Found by the `npy_read` fuzzer: a 13-byte version 3 file declaring a 2.4 GB header made
    /// npyz allocate it, and a header of nested brackets took minutes to parse.
    #[test]
    fn hostile_headers_are_refused_before_parsing() {
        let huge = b"\x93NUMPY\x03\x00\x7d\x20\x20\x93\x20";
        let e = format!("{:#}", parse_npy(huge).unwrap_err());
        assert!(e.contains("declares 2468356221 bytes"), "{e}");
        let mut nested = npy_bytes(DType::U8, &[1], &[0]);
        let dict = nested.iter().position(|&b| b == b'{').unwrap();
        nested[dict + 1..dict + 41].fill(b'[');
        let start = std::time::Instant::now();
        let e = format!("{:#}", parse_npy(&nested).unwrap_err());
        assert!(e.contains("nest deeper than 8"), "{e}");
        assert!(start.elapsed().as_secs() < 1);
        let short = &npy_bytes(DType::U8, &[1], &[0])[..20];
        let e = format!("{:#}", parse_npy(short).unwrap_err());
        assert!(e.contains("declares 118 bytes, more than the 20"), "{e}");
    }
}
