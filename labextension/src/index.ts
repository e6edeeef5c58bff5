import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { refreshIcon } from '@jupyterlab/ui-components';

import { Actions } from './actions';
import { aimassIcon } from './icons';
import { createLogWidget, JobLogView } from './logview';
import { AimassModel, IJob } from './model';
import { createTemplateNotebook, pickKernel } from './notebook';
import { AimassSidebar } from './sidebar';
import { exposeUploads } from './uploads';
import { versionCheckOnStart } from './version';
import { MainAreaWidget } from '@jupyterlab/apputils';

/** The command ids of AI Mass Lab (in the command palette under "AI Mass"). */
export namespace CommandIDs {
  export const openSidebar = 'aimass:open-sidebar';
  export const refresh = 'aimass:refresh';
  export const newNotebook = 'aimass:new-notebook';
  export const openLog = 'aimass:open-log';
  export const checkVersion = 'aimass:check-version';
}

const PALETTE_CATEGORY = 'AI Mass';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'aimass-lab:plugin',
  description:
    'AI Mass Lab: the sidebar of jobs, studies, models and deployments, a launcher card and commands.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    browser: IDefaultFileBrowser | null
  ) => {
    const { commands, shell, serviceManager } = app;
    const model = new AimassModel();
    exposeUploads(); // the notebook widgets' uploads (the Data panel) use the same code
    const logs = new WidgetTracker<MainAreaWidget<JobLogView>>({
      namespace: 'aimass-log'
    });

    const openLog = (job: IJob): void => {
      const open = logs.find(w => w.content.job.id === job.id);
      if (open) {
        shell.activateById(open.id);
        void open.content.update_();
        return;
      }
      const widget = createLogWidget(job);
      void logs.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const actions = new Actions(model, openLog);
    const sidebar = new AimassSidebar(model, actions);
    shell.add(sidebar, 'left', { rank: 150, type: 'AI Mass' });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the AI Mass Sidebar',
      caption: 'Jobs, studies, models and deployments of the workspace',
      icon: aimassIcon,
      execute: () => {
        shell.activateById(sidebar.id);
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh the AI Mass Sidebar',
      icon: refreshIcon,
      execute: () => model.refresh()
    });

    commands.addCommand(CommandIDs.newNotebook, {
      label: args =>
        args['isLauncher'] ? 'AI Mass notebook' : 'New AI Mass Notebook',
      caption: 'A new notebook with the AI Mass Workbench',
      icon: aimassIcon,
      execute: async args => {
        const folder =
          typeof args['cwd'] === 'string'
            ? args['cwd']
            : (browser?.model.path ?? '');
        await serviceManager.kernelspecs.ready;
        const kernel = pickKernel(serviceManager.kernelspecs.specs);
        const created = await createTemplateNotebook(
          serviceManager.contents,
          folder,
          kernel
        );
        return commands.execute('docmanager:open', {
          path: created.path,
          factory: 'Notebook',
          ...(kernel ? { kernel: { name: kernel.name } } : {})
        });
      }
    });

    commands.addCommand(CommandIDs.openLog, {
      label: 'Open a Job Log',
      caption: 'The log of a job, by id (args: {"id": "..."})',
      execute: args => {
        const id = String(args['id'] ?? '');
        const job = model.sections.jobs.items.find(j => j.id === id);
        openLog(
          job ?? {
            id,
            kind: 'job',
            name: null,
            state: 'unknown',
            progress: null,
            eta_s: null,
            duration_s: null,
            created_at: '',
            exit_reason: null
          }
        );
      }
    });

    commands.addCommand(CommandIDs.checkVersion, {
      label: 'Check the AI Mass Lab Version',
      execute: () => versionCheckOnStart()
    });

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.newNotebook,
        CommandIDs.checkVersion
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    if (launcher) {
      launcher.add({
        command: CommandIDs.newNotebook,
        category: 'Notebook',
        rank: 0
      });
    }

    void app.restored.then(() => versionCheckOnStart());
  }
};

export default plugin;
