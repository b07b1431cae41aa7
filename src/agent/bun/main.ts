// Placeholder until the Bun agent lands (see src/agent/bun/install.ts).
export {};
