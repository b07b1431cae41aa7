// The layouts commitHeld and previewNative read (zig/napi.zig "One crossing a send", "Function
// previews written natively"), printed for a few records and arrays:
// measurement only, not part of scope. Usage: scripts/map-layout-probe/run.sh [NODE...]
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
static uintptr_t W(uintptr_t tagged, int off) { return *(uintptr_t *)(tagged - 1 + off); }
static uint8_t B(uintptr_t tagged, int off) { return *(uint8_t *)(tagged - 1 + off); }
static uint16_t H(uintptr_t tagged, int off) { return *(uint16_t *)(tagged - 1 + off); }
static void value(const char *label, uintptr_t v) {
  if ((v & 1) == 0) { printf("  %s: smi %ld\n", label, (long)((intptr_t)v >> 32)); return; }
  uintptr_t m = W(v, 0);
  uint16_t t = H(m, 12);
  printf("  %s: heap %lx map %lx type 0x%x", label, v, m, t);
  if (t < 0x80) { int32_t len = *(int32_t *)(v - 1 + 12); printf(" strlen %d chars '%.*s'", len, len > 20 ? 20 : len, (char *)(v - 1 + 16)); }
  double d; memcpy(&d, (void *)(v - 1 + 8), 8); printf(" f64@8 %g\n", d);
}
static napi_value probe(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uintptr_t o = *(uintptr_t *)argv[0];
  if (!(o & 1)) { printf("smi\n"); return NULL; }
  uintptr_t m = W(o, 0);
  printf("object %lx map %lx size_words %u inobj_start %u used %u type 0x%x bf3 %x props %lx elems %lx\n", o, m, B(m, 8), B(m, 9), B(m, 10), H(m, 12), (uint32_t)W(m, 16), W(o, 8), W(o, 16));
  uintptr_t d = W(m, 40);
  printf(" descriptors %lx dmap-type 0x%x all %u n %u own(bf3) %u\n", d, H(W(d, 0), 12), H(d, 8), H(d, 10), ((uint32_t)W(m, 16) >> 10) & 0x3ff);
  unsigned own = ((uint32_t)W(m, 16) >> 10) & 0x3ff;
  for (unsigned i = 0; i < own && i < 12; i++) {
    uintptr_t key = W(d, 24 + i * 24), details = W(d, 32 + i * 24);
    int64_t det = (intptr_t)details >> 32;
    printf(" [%u] key '%.*s' details 0x%lx kind %ld loc %ld rep %ld field %ld\n", i, *(int32_t *)(key - 1 + 12), (char *)(key - 1 + 16), det, det & 1, (det >> 5) & 1, (det >> 6) & 7, (det >> 19) & 0x3ff);
    long fi = (det >> 19) & 0x3ff; unsigned start = B(m, 9), count = B(m, 8) - B(m, 9);
    if (fi < count) value("inobj", W(o, (start + fi) * 8)); else printf("  out-of-object\n");
  }
  return NULL;
}
// A JSArray: its map's instance type and elements kind (bit_field2 bits 2-7), its length (a Smi
// at byte 24), its elements' map type, capacity (a Smi at byte 8) and values from byte 16
// (tagged words, or f64 for PACKED_DOUBLE).
static napi_value array(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uintptr_t a = *(uintptr_t *)argv[0];
  uintptr_t m = W(a, 0), e = W(a, 16);
  unsigned kind = B(m, 15) >> 2;
  long length = (long)((intptr_t)W(a, 24) >> 32), capacity = (long)((intptr_t)W(e, 8) >> 32);
  printf("array type 0x%x kind %u length %ld elements type 0x%x capacity %ld\n", H(m, 12), kind, length, H(W(e, 0), 12), capacity);
  for (long i = 0; i < length && i < 4; i++) {
    if (kind == 4) { double d; memcpy(&d, (void *)(e - 1 + 16 + 8 * i), 8); printf("  [%ld] f64 %g\n", i, d); }
    else { char label[16]; snprintf(label, sizeof label, "[%ld]", i); value(label, W(e, 16 + 8 * i)); }
  }
  return NULL;
}
static napi_value roots(napi_env env, napi_callback_info info) {
  napi_value v; napi_get_boolean(env, 1, &v); value("true", *(uintptr_t*)v);
  napi_get_boolean(env, 0, &v); value("false", *(uintptr_t*)v);
  napi_get_null(env, &v); value("null", *(uintptr_t*)v);
  napi_get_undefined(env, &v); value("undefined", *(uintptr_t*)v);
  napi_create_double(env, 0.5, &v); value("0.5", *(uintptr_t*)v);
  return NULL;
}
NAPI_MODULE_INIT() {
  napi_value f; napi_create_function(env, "probe", NAPI_AUTO_LENGTH, probe, NULL, &f); napi_set_named_property(env, exports, "probe", f);
  napi_create_function(env, "roots", NAPI_AUTO_LENGTH, roots, NULL, &f); napi_set_named_property(env, exports, "roots", f);
  napi_create_function(env, "array", NAPI_AUTO_LENGTH, array, NULL, &f); napi_set_named_property(env, exports, "array", f);
  return exports;
}
