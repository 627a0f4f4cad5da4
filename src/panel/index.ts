export { GpuGuardPanel, InstanceWidget, SnapshotsWidget } from './widget';
export { InstanceView } from '../instance/InstanceView';
