/** The offline provider's model: its name and vector size, without loading the provider. */
export const OFFLINE_MODEL = 'quarry/wink-sg-100d';
export const OFFLINE_DIMENSIONS = 100;
