export { GpuGuardPanel, InstanceWidget } from './widget';
export { InstanceView } from './InstanceView';
