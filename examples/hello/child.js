process.once("message", (message) => {
  process.send({ greeting: `hello, ${message.hello === "child" ? "parent" : "stranger"}` }, () => process.disconnect());
});
