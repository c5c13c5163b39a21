/* infer/binconv.c: binary 2-d convolution by im2col on packed words and the binary GEMM. */
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "infer/kernels.h"

void nnc_bin_conv2d_init(nnc_bin_conv2d *L, int64_t C, int64_t O, int64_t KH, int64_t KW, int stride, int pad,
                         const uint64_t *w) {
  NNC_CHECK(C > 0 && O > 0 && KH > 0 && KW > 0 && stride > 0 && pad >= 0, "bin_conv2d",
            "C=%lld O=%lld kernel %lldx%lld stride %d pad %d", (long long)C, (long long)O, (long long)KH, (long long)KW,
            stride, pad);
  memset(L, 0, sizeof *L);
  L->C = C;
  L->O = O;
  L->KH = KH;
  L->KW = KW;
  L->stride = stride;
  L->pad = pad;
  L->cw = nnc_bits_words(C);
  const int64_t taps = KH * KW;
  NNC_CHECK(nnc_bits_padding_clear(O * taps, C, w), "bin_conv2d", "padding bits of the weights must be 0");
  nnc_bin_linear_init(&L->gemm, taps * L->cw * 64, O, w);
  L->wpop = nnc_xmalloc((size_t)(O * taps) * sizeof *L->wpop);
  for (int64_t o = 0; o < O; o++)
    for (int64_t t = 0; t < taps; t++) {
      int32_t p = 0;
      for (int64_t k = 0; k < L->cw; k++) p += __builtin_popcountll(w[(o * taps + t) * L->cw + k]);
      L->wpop[o * taps + t] = p;
    }
}

void nnc_bin_conv2d_free(nnc_bin_conv2d *L) {
  nnc_bin_linear_free(&L->gemm);
  free(L->wpop);
  memset(L, 0, sizeof *L);
}

void nnc_bin_conv2d_out_size(const nnc_bin_conv2d *L, int64_t H, int64_t W, int64_t *OH, int64_t *OW) {
  *OH = (H + 2 * L->pad - L->KH) / L->stride + 1;
  *OW = (W + 2 * L->pad - L->KW) / L->stride + 1;
}

void nnc_bin_conv2d_forward(const nnc_bin_conv2d *L, int64_t N, int64_t H, int64_t W, const uint64_t *x, int32_t *y) {
  int64_t OH, OW;
  nnc_bin_conv2d_out_size(L, H, W, &OH, &OW);
  NNC_CHECK(OH > 0 && OW > 0, "bin_conv2d", "input %lldx%lld too small", (long long)H, (long long)W);
  const int64_t taps = L->KH * L->KW, rw = taps * L->cw, P = N * OH * OW, chunk = 256;
  const int64_t Kb = rw * 64;
  uint64_t *col = nnc_xmalloc((size_t)(chunk * rw) * sizeof *col);
  int32_t *raw = nnc_xmalloc((size_t)(chunk * L->O) * sizeof *raw);
  for (int64_t p0 = 0; p0 < P; p0 += chunk) {
    int64_t pb = P - p0 < chunk ? P - p0 : chunk;
    for (int64_t i = 0; i < pb; i++) { /* im2col: taps in the padding are 0 words */
      int64_t p = p0 + i, n = p / (OH * OW), oh = p / OW % OH, ow = p % OW;
      for (int64_t kh = 0; kh < L->KH; kh++)
        for (int64_t kw = 0; kw < L->KW; kw++) {
          int64_t ih = oh * L->stride - L->pad + kh, iw = ow * L->stride - L->pad + kw;
          uint64_t *dst = col + i * rw + (kh * L->KW + kw) * L->cw;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W) memset(dst, 0, (size_t)L->cw * sizeof *dst);
          else memcpy(dst, x + ((n * H + ih) * W + iw) * L->cw, (size_t)L->cw * sizeof *dst);
        }
    }
    nnc_bin_linear_acc(&L->gemm, pb, col, raw);
    for (int64_t i = 0; i < pb; i++) {
      int64_t p = p0 + i, oh = p / OW % OH, ow = p % OW;
      int64_t nvalid = 0;
      for (int64_t kh = 0; kh < L->KH; kh++)
        for (int64_t kw = 0; kw < L->KW; kw++) {
          int64_t ih = oh * L->stride - L->pad + kh, iw = ow * L->stride - L->pad + kw;
          nvalid += ih >= 0 && ih < H && iw >= 0 && iw < W;
        }
      for (int64_t o = 0; o < L->O; o++) {
        int64_t pop = (Kb - raw[i * L->O + o]) / 2, corr = 0; /* popcount over every tap */
        if (nvalid < taps)
          for (int64_t kh = 0; kh < L->KH; kh++)
            for (int64_t kw = 0; kw < L->KW; kw++) {
              int64_t ih = oh * L->stride - L->pad + kh, iw = ow * L->stride - L->pad + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) corr += L->wpop[o * taps + kh * L->KW + kw];
            }
        y[p * L->O + o] = (int32_t)(nvalid * L->C - 2 * (pop - corr));
      }
    }
  }
  free(col);
  free(raw);
}

void nnc_bin_conv2d_ref(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int stride,
                        int pad, const uint64_t *x, const uint64_t *w, int32_t *y) {
  const int64_t cw = nnc_bits_words(C), OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++)
        for (int64_t o = 0; o < O; o++) {
          int32_t s = 0;
          for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
              int64_t ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const uint64_t *xp = x + ((n * H + ih) * W + iw) * cw, *wp = w + ((o * KH + kh) * KW + kw) * cw;
              for (int64_t c = 0; c < C; c++) {
                int xv = (int)((xp[c / 64] >> (c % 64)) & 1) ? 1 : -1, wv = (int)((wp[c / 64] >> (c % 64)) & 1) ? 1 : -1;
                s += xv * wv;
              }
            }
          y[((n * OH + oh) * OW + ow) * O + o] = s;
        }
}
