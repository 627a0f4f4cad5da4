import { VDomModel, VDomRenderer } from '@jupyterlab/apputils';

/**
 * A status bar item that acts as a button: click, Enter or Space run `onClick`.
 */
export abstract class ClickableStatusItem<
  T extends VDomModel
> extends VDomRenderer<T> {
  constructor(model: T, onClick: () => void) {
    super(model);
    this._onClick = onClick;
    this.node.addEventListener('click', this);
    this.node.addEventListener('keydown', this);
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
  }

  handleEvent(event: Event): void {
    if (event.type === 'click') {
      this._onClick();
    } else if (
      event.type === 'keydown' &&
      ((event as KeyboardEvent).key === 'Enter' ||
        (event as KeyboardEvent).key === ' ')
    ) {
      event.preventDefault();
      this._onClick();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('click', this);
    this.node.removeEventListener('keydown', this);
    this.model.dispose();
    super.dispose();
  }

  private _onClick: () => void;
}
