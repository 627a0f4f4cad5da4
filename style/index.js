import './base.css';
import './snapshots.css';
import './pods.css';
import './idle.css';
