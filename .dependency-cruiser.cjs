/**
 * The layers of fedmkt (README, "Layout"), checked in CI (`npm run check:layers`):
 *
 *   core/      the library: imports nothing above it
 *   machines/  pure XState machines: the protocol's own types from core, no model or learning code
 *   actors/    wiring machines to transports, clocks and learners
 *   apps/, explore/, cli/   applications on top
 *
 * and no module imports itself in a circle.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module depends on itself through others: split or move what both need below both.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-the-library',
      severity: 'error',
      comment: 'core/ imports nothing from machines/, actors/, apps/, explore/ or cli/.',
      from: { path: '^core/' },
      to: { path: '^(machines|actors|apps|explore|cli)/' },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'machines/ know the protocol (messages, policies), not models, learning, transports or I/O; the teacher type passes through them unread.',
      from: { path: '^machines/' },
      to: {
        path: '^(actors|apps|explore|cli)/|^core/(models|learning|tensor|wasm|tokenizers|data|transport|nats|faults|scenario)/',
      },
    },
    {
      name: 'machines-read-no-alignment',
      severity: 'error',
      comment: 'Machines carry aligned teachers from one step to the next; they may name the type, never run alignment code.',
      from: { path: '^machines/' },
      to: { path: '^core/alignment/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'actors-below-apps',
      severity: 'error',
      comment: 'actors/ wire the protocol; applications use them, not the other way round.',
      from: { path: '^actors/' },
      to: { path: '^(apps|explore|cli)/' },
    },
    {
      name: 'learning-never-touches-transports',
      severity: 'error',
      comment: 'Models, learning and alignment know nothing of how messages travel.',
      from: { path: '^core/(models|learning|alignment|tensor)/' },
      to: { path: '^core/(transport|nats)/' },
    },
    {
      name: 'apps-apart',
      severity: 'error',
      comment:
        "Applications stand on the layers below and never on cli/, the one that uses them all (the live view draws with the report's colours and the diagram renderer).",
      from: { path: '^(apps|explore)/' },
      to: { path: '^cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|test|bench|runs|\\.cache)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
