import base from '@quarry/eslint-config';

export default [...base, { ignores: ['bin/**'] }];
