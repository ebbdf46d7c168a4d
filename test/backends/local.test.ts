import { backendConformance } from '../conformance/index.js';

await backendConformance('LOCAL');
