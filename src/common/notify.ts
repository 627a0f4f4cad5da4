import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

/**
 * The "Show GPU Guard" button every notification of ours carries.
 *
 * @param keepOpen - Leave the notification up when it is clicked (a countdown
 *   or an operation under way goes on).
 */
export function showPanelAction(
  trans: TranslationBundle,
  showPanel: () => void,
  keepOpen = false,
  displayType?: Notification.IAction['displayType']
): Notification.IAction {
  return {
    label: trans.__('Show GPU Guard'),
    caption: trans.__('Open the GPU Guard panel'),
    callback: event => {
      if (keepOpen) {
        event.preventDefault();
      }
      showPanel();
    },
    ...(displayType ? { displayType } : {})
  };
}
