import { backendConformance } from '../../testing/index.js';

await backendConformance('LOCAL');
