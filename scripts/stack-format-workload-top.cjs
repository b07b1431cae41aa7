// The module whose top level formats the stacks (scripts/stack-format-workload.cjs).
console.log(require("./stack-format-workload.cjs")(20));
