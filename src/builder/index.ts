/** The image builder: plans builds and uploads with the database, and runs them in actors. */
export { ImageBuilder, type ImageBuilderOptions } from './image-builder.js';
export { planImages, KEEP_READY, type ImagePlan, type ImagePlanInput } from './plan.js';
export { DEFAULT_TUNING, tuningFromEnv, type BuilderTuning } from './tuning.js';
export { BUILD_ID_PROPERTY, UPLOAD_ID_PROPERTY } from './upload-effects.js';
