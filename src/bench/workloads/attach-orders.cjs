"use strict";
// The module `scope bench`'s attach proof traces live (src/bench/attach.ts): a few small
// functions a request passes through, deterministic so the load client can check every
// response against what it computes itself with this same module.
const catalogue = Array.from({ length: 32 }, (_, i) => ({ id: i, name: `product ${i}`, price: 100 + i * 7 }));

function price(item, count) {
  return item.price * count;
}

function createOrder(id, count) {
  const item = catalogue[id % catalogue.length];
  return { id, item: item.name, count, total: price(item, count) };
}

function render(order) {
  return JSON.stringify({ ok: true, order });
}

module.exports = { createOrder, render };
