import reactHooks from 'eslint-plugin-react-hooks';
import base from '@quarry/eslint-config';

export default [
  ...base,
  // The rules of hooks, and the React Compiler's checks (refs read during render, state set in effects).
  reactHooks.configs.flat['recommended-latest'],
];
