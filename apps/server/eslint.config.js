import base from '@quarry/eslint-config';

// docs/http-adapter-bench: a standalone measurement with its own dependencies (see its README).
export default [...base, { ignores: ['bin/**', 'docs/http-adapter-bench/**'] }];
