// Getter-safe reads through V8's C++ API, for scripts/getter-safe-reads/micro.cjs (measurement
// only, not part of scope): the node binary's exported symbols, declared here and resolved at
// load (V8 11.3 in Node 20 and 13.6 in Node 24 export the same names; GlobalizeReference's
// argument differs, so it is found with dlsym). setup(keys, Float64Array, byValue) holds the
// keys as global handles; readN(o) reads o's values of those keys into the Float64Array.
#include <node_api.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

typedef void *Local;
typedef struct { bool has; bool value; } MaybeBool;
typedef struct { bool has; int value; } MaybeAttr;
extern void *_ZN2v87Isolate10GetCurrentEv(void);
extern Local _ZN2v87Isolate17GetCurrentContextEv(void *isolate);
extern MaybeBool _ZN2v86Object28HasRealNamedCallbackPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE(Local self, Local ctx, Local key);
extern MaybeBool _ZN2v86Object20HasRealNamedPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE(Local self, Local ctx, Local key);
extern MaybeAttr _ZN2v86Object30GetRealNamedPropertyAttributesENS_5LocalINS_7ContextEEENS1_INS_4NameEEE(Local self, Local ctx, Local key);
extern Local _ZN2v86Object20GetRealNamedPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE(Local self, Local ctx, Local key);
#define CALLBACK_P _ZN2v86Object28HasRealNamedCallbackPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE
#define HAS_P _ZN2v86Object20HasRealNamedPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE
#define ATTR_P _ZN2v86Object30GetRealNamedPropertyAttributesENS_5LocalINS_7ContextEEENS1_INS_4NameEEE
#define GET_P _ZN2v86Object20GetRealNamedPropertyENS_5LocalINS_7ContextEEENS1_INS_4NameEEE

#define MAX_KEYS 16
static Local keys[MAX_KEYS];
#include <dlfcn.h>
static uint32_t key_count;
static double *scratch;

static napi_value setup(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t n; napi_get_array_length(env, argv[0], &n);
  key_count = n > MAX_KEYS ? MAX_KEYS : n;
  for (uint32_t i = 0; i < key_count; i++) { napi_value k; napi_get_element(env, argv[0], i, &k); bool by_value; napi_get_value_bool(env, argv[2], &by_value); if (by_value) { uintptr_t *(*g)(void *, uintptr_t) = dlsym(NULL, "_ZN2v812api_internal18GlobalizeReferenceEPNS_8internal7IsolateEm"); keys[i] = g(_ZN2v87Isolate10GetCurrentEv(), *(uintptr_t *)k); } else { uintptr_t *(*g)(void *, uintptr_t *) = dlsym(NULL, "_ZN2v812api_internal18GlobalizeReferenceEPNS_8internal7IsolateEPm"); keys[i] = g(_ZN2v87Isolate10GetCurrentEv(), (uintptr_t *)k); } }
  void *data; size_t length; napi_typedarray_type t; napi_value ab; size_t off;
  napi_get_typedarray_info(env, argv[1], &t, &length, &data, &ab, &off);
  scratch = data;
  return NULL;
}

static napi_value result(napi_env env, double v) { napi_value r; napi_create_double(env, v, &r); return r; }

// noop(o): the crossing alone.
static napi_value noop(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return NULL;
}

// mode 1: own accessor? (HasRealNamedCallbackProperty) + own at all? (HasRealNamedProperty) + the value (GetRealNamedProperty) + its number.
// mode 2: attributes (own, Nothing when absent) + accessor? + value.
// mode 3: value only (unsafe: runs a getter; the API call's unit cost).
// mode 4: the loop alone.
static napi_value read_mode(napi_env env, napi_callback_info info, int mode) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Local o = (Local)argv[0];
  Local ctx = _ZN2v87Isolate17GetCurrentContextEv(_ZN2v87Isolate10GetCurrentEv());
  for (uint32_t i = 0; i < key_count; i++) {
    Local key = keys[i];
    if (mode == 4) continue;
    if (mode == 1) {
      MaybeBool accessor = CALLBACK_P(o, ctx, key);
      if (!accessor.has || accessor.value) return result(env, -1);
      MaybeBool own = HAS_P(o, ctx, key);
      if (!own.has || !own.value) return result(env, -1);
    } else if (mode == 2) {
      MaybeAttr attr = ATTR_P(o, ctx, key);
      if (!attr.has) return result(env, -1);
      MaybeBool accessor = CALLBACK_P(o, ctx, key);
      if (!accessor.has || accessor.value) return result(env, -1);
    }
    Local value = GET_P(o, ctx, key);
    if (value == NULL) return result(env, -1);
    double d; if (napi_get_value_double(env, (napi_value)value, &d) != napi_ok) return result(env, -2);
    scratch[i] = d;
  }
  return result(env, key_count);
}
static napi_value read1(napi_env env, napi_callback_info info) { return read_mode(env, info, 1); }
static napi_value read2(napi_env env, napi_callback_info info) { return read_mode(env, info, 2); }
static napi_value read3(napi_env env, napi_callback_info info) { return read_mode(env, info, 3); }
static napi_value read4(napi_env env, napi_callback_info info) { return read_mode(env, info, 4); }

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
    {"setup", 0, setup, 0, 0, 0, napi_default, 0},
    {"noop", 0, noop, 0, 0, 0, napi_default, 0},
    {"read1", 0, read1, 0, 0, 0, napi_default, 0},
    {"read2", 0, read2, 0, 0, 0, napi_default, 0},
    {"read3", 0, read3, 0, 0, 0, napi_default, 0},
    {"read4", 0, read4, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, 6, d);
  return exports;
}

